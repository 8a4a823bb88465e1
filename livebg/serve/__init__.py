"""`livebg serve`: the HTTP API (FastAPI on uvicorn) and its web page; needs `livebg[serve]`."""
