import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("produce", "0003_core_payment_data")]

    operations = [
        migrations.RemoveField(model_name="produceorder", name="online_type"),
        migrations.RemoveField(model_name="produceorder", name="payment_intent"),
        migrations.RemoveField(model_name="produceorder", name="stripe_customer"),
        migrations.RemoveField(model_name="produceorder", name="payment_state"),
        migrations.RemoveField(model_name="produceorder", name="amount_captured"),
        migrations.RemoveField(model_name="produceorder", name="amount_refunded"),
        migrations.RemoveField(model_name="checkout", name="payment_intent"),
        migrations.RemoveField(model_name="checkout", name="online_type"),
        migrations.RemoveField(model_name="checkout", name="amount"),
        migrations.AlterField(
            model_name="produceorder",
            name="payment",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="produce_order",
                to="payments.payment",
                verbose_name="支付",
            ),
        ),
        migrations.AlterField(
            model_name="checkout",
            name="payment",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="payments.payment"
            ),
        ),
    ]
