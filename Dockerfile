# The app image docker-compose.yml builds: the farm and its workers (Redis and Postgres are their own images).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY farm ./farm
COPY workers ./workers
COPY alembic ./alembic
RUN pip install --no-cache-dir -e . && mkdir -p /var/lib/farm
ENV PYTHONUNBUFFERED=1
