"""PostgreSQL access: migrations, connection pools, domain errors."""
