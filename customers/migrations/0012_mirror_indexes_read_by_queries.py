# The mirror's indexes cut to those a query reads, with shop_id last (docs/benchmarks.md "Fifth
# pass"; measured at 1M customers / 3M orders, CPU-s to build in a first full sync):
# - dropped, no plan read them: the matching keys (email 1.77, phone 1.40, name keys 2.05,
#   postcode 1.65; duplicate detection reads its own blocking-key table, the API search ORs
#   them with substring matches, which scan), the account state (0.92: four values, filters
#   scan) and the orders' customer_id FK index (1.10: order_customer serves every lookup by
#   customer, which now names the shop);
# - shop_id moved last in the others (unique Shopify ids, updated_at, order_customer,
#   order_customer_shopify): a shop's partition holds one shop_id, and a constant first column
#   makes PostgreSQL's sort compare every pair in full (1.56 -> 1.18, 1.81 -> 1.42 CPU-s).
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0011_mirror_partitioned_by_shop'),
        ('tenants', '0004_invitation'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='customer',
            name='customer_unique_shopify_id',
        ),
        migrations.RemoveConstraint(
            model_name='order',
            name='order_unique_shopify_id',
        ),
        migrations.RemoveIndex(
            model_name='customer',
            name='customer_email_norm',
        ),
        migrations.RemoveIndex(
            model_name='customer',
            name='customer_phone_e164',
        ),
        migrations.RemoveIndex(
            model_name='customer',
            name='customer_name_keys',
        ),
        migrations.RemoveIndex(
            model_name='customer',
            name='customer_postcode',
        ),
        migrations.RemoveIndex(
            model_name='customer',
            name='customer_updated',
        ),
        migrations.RemoveIndex(
            model_name='customer',
            name='customer_state',
        ),
        migrations.RemoveIndex(
            model_name='order',
            name='order_customer',
        ),
        migrations.RemoveIndex(
            model_name='order',
            name='order_customer_shopify',
        ),
        migrations.AlterField(
            model_name='order',
            name='customer',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='orders', to='customers.customer'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['updated_at_shopify', 'shop'], name='customer_updated'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['customer', 'processed_at', 'shop'], name='order_customer'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['customer_shopify_id', 'shop'], name='order_customer_shopify'),
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.UniqueConstraint(fields=('shopify_id', 'shop'), name='customer_unique_shopify_id'),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.UniqueConstraint(fields=('shopify_id', 'shop'), name='order_unique_shopify_id'),
        ),
    ]
