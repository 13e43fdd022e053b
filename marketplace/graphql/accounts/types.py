from __future__ import annotations

import graphene

from marketplace.accounts.models import Role

RoleEnum = graphene.Enum.from_enum(Role, name="Role")


class UserType(graphene.ObjectType):
    id = graphene.ID(required=True)
    username = graphene.String(required=True)
    display_name = graphene.String(required=True)
    role = graphene.Field(RoleEnum, required=True)
    station_ids = graphene.List(graphene.NonNull(graphene.ID), required=True)
    partner_ids = graphene.List(graphene.NonNull(graphene.ID), required=True)

    class Meta:
        name = "User"

    @staticmethod
    def resolve_display_name(user, info) -> str:
        return str(user)

    @staticmethod
    def resolve_role(user, info) -> str:
        return user.role

    @staticmethod
    def resolve_station_ids(user, info) -> list[int]:
        return list(user.station_memberships.values_list("station_id", flat=True))

    @staticmethod
    def resolve_partner_ids(user, info) -> list[int]:
        return list(user.partners.values_list("pk", flat=True))
