"""Send: the event-loop HTTP client (`transport` on `io_loop`, one request's steps in `exchange`, answers
read by llhttp in `http_wire`, the proxy and trusted CAs in `egress`) and the network guard that decides
which addresses a callback may reach (`network`)."""
