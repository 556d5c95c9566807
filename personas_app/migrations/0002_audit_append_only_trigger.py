"""On PostgreSQL, a trigger rejects UPDATE and DELETE on the audit table (append-only for real).

SQLite has no equivalent that tests can rely on, so there the model and queryset guards apply.
TRUNCATE is deliberately left alone: test runners empty tables with it between tests, and only a
database owner can issue it.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION personas_app_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS personas_app_audit_append_only ON personas_app_auditevent;
CREATE TRIGGER personas_app_audit_append_only
    BEFORE UPDATE OR DELETE ON personas_app_auditevent
    FOR EACH ROW EXECUTE FUNCTION personas_app_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS personas_app_audit_append_only ON personas_app_auditevent;
DROP FUNCTION IF EXISTS personas_app_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)  # no placeholders: "%" is plpgsql's


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("personas_app", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
