# One image for every ansinh service; the command picks the service (python -m services.<name>).
# It holds the service runtime and the operator tools (migrate/provision, dlq, outbox), never the local
# development platform (ansinh/devplatform: it installs OS packages and runs servers from jars).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ansinh/__init__.py ansinh/cli.py ansinh/
COPY ansinh/runtime ansinh/runtime
COPY ansinh/ops ansinh/ops
COPY schemas schemas
COPY services services
RUN pip install --no-cache-dir . && useradd --system --uid 10001 --no-create-home ansinh
# The services need no privilege: they write only to the database, Kafka and a temporary faust directory.
USER ansinh
ENV ANSINH_WEB_HOST=0.0.0.0
EXPOSE 6061 6062 6063 6064
CMD ["python", "-m", "services.collection"]
