"""The consultants' web console: a server-rendered aiohttp site on top of infoline.handoff.

`app.py` builds the application (sessions, security headers, login, CSRF, templates);
`views/` holds the pages by area; templates and static files live beside them. Nothing
here builds a query: every read and write goes through the handoff domain.
"""
