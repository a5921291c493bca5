//! Set-Cookie and clearing cookies for tickets, and finding the ticket cookie in a request.
