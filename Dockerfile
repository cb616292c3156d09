# Vouch: the web (gunicorn, the default command) and the mail worker (`flask --app app mail worker`)
# from one image. Settings come from the environment (README "Configuration", deploy/vouch.env.example).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VOUCH_ENV=production \
    FLASK_APP=app

RUN useradd --create-home --uid 10001 --user-group vouch

# The commands run from the source directory: its templates, static files and migrations are
# read from there; `pip install .` brings the dependencies and the `flask doctor` entry point.
WORKDIR /app
COPY . .
RUN pip install . && rm -rf build *.egg-info

USER vouch
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-", "app:create_app()"]
