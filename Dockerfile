# The receiver, projector and CLI in one image (docker-compose.yml picks the command).
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY services ./services
COPY schemas ./schemas
RUN pip install --no-cache-dir --no-deps --no-build-isolation .
ENV PYTHONUNBUFFERED=1
