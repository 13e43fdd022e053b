from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


@admin.register(User)
class MarketplaceUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Marketplace", {"fields": ("role", "phone", "display_name")}))
    list_display = ("username", "display_name", "role", "phone", "is_active")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("username", "display_name", "phone")
