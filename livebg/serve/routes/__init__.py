"""The server's routes, one router per resource: photos, video jobs, and the server itself."""
