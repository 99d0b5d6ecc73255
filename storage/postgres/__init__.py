"""The PostgreSQL backend: URLs, the psycopg pool, roles and grants, RLS DDL, the embedded server.

Imported only when `storage.backend = "postgres"`: SQLite users never load psycopg.
"""
