//! htpasswd password verification (bcrypt, SHA-crypt, APR1-MD5, `{SHA}`) and bcrypt hashing.
