# One image for every ansinh service; the command picks the service (python -m services.<name>).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ansinh ansinh
COPY schemas schemas
COPY services services
RUN pip install --no-cache-dir .
ENV ANSINH_WEB_HOST=0.0.0.0
EXPOSE 6061 6062 6063 6064
CMD ["python", "-m", "services.collection"]
