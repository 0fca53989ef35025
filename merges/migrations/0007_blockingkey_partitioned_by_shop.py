"""The blocking key table partitioned by shop (PostgreSQL; the SQLite demo keeps one table).

A full scan rewrites all of a shop's keys (5 M rows at 1,000,000 customers). Into one shared
indexed table that meant deleting the old rows and inserting new ones through five indexes and a
deferred foreign-key check per row (62 s for 460,000 keys under load). With a partition per shop
the scan loads a fresh table, builds its indexes once by sorting, and swaps it in
(merges.detection.blocking). Queries still name `merges_blockingkey`: same table, same rows.
Keys of a shop that has no partition yet (written before its first full scan) land in the
default partition; the first full scan moves the shop out of it.
The per-row shop index is gone (the lookup index starts with the shop); no primary key
constraint (ids come from the sequence, nothing looks a key up by id).
"""

from django.db import migrations

FORWARD = """
CREATE SEQUENCE merges_blockingkey_by_shop_id_seq;
CREATE TABLE merges_blockingkey_by_shop (
    id bigint NOT NULL DEFAULT nextval('merges_blockingkey_by_shop_id_seq'),
    key_type varchar(16) NOT NULL,
    key_value varchar(400) NOT NULL,
    customer_id bigint NOT NULL,
    shop_id bigint NOT NULL
) PARTITION BY LIST (shop_id);
DO $$
DECLARE shop bigint;
BEGIN
  FOR shop IN SELECT DISTINCT shop_id FROM merges_blockingkey LOOP
    EXECUTE format(
      'CREATE TABLE merges_blockingkey_s%s PARTITION OF merges_blockingkey_by_shop'
      ' FOR VALUES IN (%s)', shop, shop);
  END LOOP;
END $$;
CREATE TABLE merges_blockingkey_default PARTITION OF merges_blockingkey_by_shop DEFAULT;
INSERT INTO merges_blockingkey_by_shop (id, key_type, key_value, customer_id, shop_id)
  SELECT id, key_type, key_value, customer_id, shop_id FROM merges_blockingkey;
SELECT setval('merges_blockingkey_by_shop_id_seq',
              (SELECT COALESCE(MAX(id), 0) + 1 FROM merges_blockingkey), false);
DROP TABLE merges_blockingkey;
ALTER TABLE merges_blockingkey_by_shop RENAME TO merges_blockingkey;
ALTER SEQUENCE merges_blockingkey_by_shop_id_seq RENAME TO merges_blockingkey_id_seq;
ALTER SEQUENCE merges_blockingkey_id_seq OWNED BY merges_blockingkey.id;
CREATE INDEX blockingkey_lookup ON merges_blockingkey (shop_id, key_type, key_value);
CREATE INDEX blockingkey_customer ON merges_blockingkey (shop_id, customer_id);
CREATE INDEX merges_blockingkey_customer_id_f64fbdc5 ON merges_blockingkey (customer_id);
ALTER TABLE merges_blockingkey ADD CONSTRAINT merges_blockingkey_customer_fk
  FOREIGN KEY (customer_id) REFERENCES customers_customer (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE merges_blockingkey ADD CONSTRAINT merges_blockingkey_shop_fk
  FOREIGN KEY (shop_id) REFERENCES tenants_shop (id) DEFERRABLE INITIALLY DEFERRED;
"""

BACKWARD = """
CREATE TABLE merges_blockingkey_flat (
    id bigint NOT NULL PRIMARY KEY DEFAULT nextval('merges_blockingkey_id_seq'),
    key_type varchar(16) NOT NULL,
    key_value varchar(400) NOT NULL,
    customer_id bigint NOT NULL
      REFERENCES customers_customer (id) DEFERRABLE INITIALLY DEFERRED,
    shop_id bigint NOT NULL REFERENCES tenants_shop (id) DEFERRABLE INITIALLY DEFERRED
);
INSERT INTO merges_blockingkey_flat SELECT id, key_type, key_value, customer_id, shop_id
  FROM merges_blockingkey;
ALTER SEQUENCE merges_blockingkey_id_seq OWNED BY merges_blockingkey_flat.id;
DROP TABLE merges_blockingkey;
ALTER TABLE merges_blockingkey_flat RENAME TO merges_blockingkey;
CREATE INDEX blockingkey_lookup ON merges_blockingkey (shop_id, key_type, key_value);
CREATE INDEX blockingkey_customer ON merges_blockingkey (shop_id, customer_id);
CREATE INDEX merges_blockingkey_customer_id_f64fbdc5 ON merges_blockingkey (customer_id);
CREATE INDEX merges_blockingkey_shop_id_b0299a58 ON merges_blockingkey (shop_id);
"""


def _postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)  # no parameters: format()'s %s stay as written

    return run


class Migration(migrations.Migration):
    dependencies = [("merges", "0006_matcherfit_changed_at")]

    operations = [migrations.RunPython(_postgresql(FORWARD), _postgresql(BACKWARD))]
