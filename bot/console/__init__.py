"""The staff web console: a Starlette app (app.py) served by uvicorn in the bot's own event
loop (server.py), on the same storage operations and scope rules as the bot."""
