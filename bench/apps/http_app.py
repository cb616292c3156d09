"""The WSGI app that ``bench/http.py`` serves with gunicorn: the app as deployed, plus
``/bare``, a bare Flask endpoint in an app of its own (no extensions, no hooks, no database) under
the same server: the least a request through gunicorn and Flask costs. Only the benchmark uses it.

``gunicorn 'bench.apps.http_app:app'`` from the repository's root (in a folder of its own, so
that ``make bench``, which runs every ``bench/*.py``, does not run it).
"""

from flask import Flask

from app import create_app

vouch = create_app()  # VOUCH_ENV and the environment choose the settings, as in a deployment
bare = Flask("bare")


@bare.get("/bare")
def bare_endpoint():
    return "ok"


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/bare":
        return bare(environ, start_response)
    return vouch(environ, start_response)
