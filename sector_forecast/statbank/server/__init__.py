"""The local StatBank stand-in: request handler, admin operations, HTTP server, in-process transport."""
