"""The WSGI entry point: ``gunicorn wsgi:app``."""

from gateway import create_app, logs

app = create_app()
logs.configure(app.config["LOA_SETTINGS"])
