"""Wire formats: request and response schemas, CSV in and out, and the Pipeline's column inputs."""
