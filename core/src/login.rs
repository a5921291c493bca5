//! Login form bodies (`credential_N`, `destination`), destination untainting, login redirects.
