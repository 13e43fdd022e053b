import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("produce", "0001_initial"),
        ("payments", "0005_payment_user_payer"),
    ]

    operations = [
        migrations.AddField(
            model_name="produceorder",
            name="payment",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="produce_order",
                to="payments.payment",
                verbose_name="支付",
            ),
        ),
        migrations.AddField(
            model_name="checkout",
            name="payment",
            field=models.OneToOneField(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="payments.payment"
            ),
        ),
    ]
