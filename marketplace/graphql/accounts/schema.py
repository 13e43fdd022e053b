import graphene

from .mutations import TokenCreate, TokenRevoke
from .types import UserType


class AccountQueries(graphene.ObjectType):
    me = graphene.Field(UserType, description="The signed-in user, or null.")

    @staticmethod
    def resolve_me(root, info):
        user = info.context.user
        return user if user.is_authenticated else None


class AccountMutations(graphene.ObjectType):
    token_create = TokenCreate.Field()
    token_revoke = TokenRevoke.Field()
