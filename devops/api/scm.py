"""``/api/v1/credentials/`` and ``/api/v1/repositories/``: the caller's own provider credentials and
the repositories they administer.

Credentials are personal, not project objects: everyone (staff too) sees only their own, and anyone
else's id is a 404. Tokens are never fields. Repositories are the rows ``sync_repositories`` mirrored
for the caller's credentials; ``refresh`` runs that sync now, and a provider that fails is a 502 with
its (token-free) message rather than a crash.
"""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.serializers import BaseSerializer

from devops.api.pipelines import ID_PARAM, UPSTREAM, IdFilter, UpstreamError
from devops.api.pipelines_serializers import MAX_ID, NO_SUCH_CREDENTIAL
from devops.models import SourceCodeCredential, SourceCodeRepository
from devops.models.scm import Provider
from devops.scm.base import ProviderError
from devops.scm.credentials import sync_repositories
from devops.scm.registry import provider_class

MAX_SEARCH = 200


class CredentialSerializer(serializers.ModelSerializer):
    class Meta:
        model = SourceCodeCredential
        fields = ["id", "provider", "host", "login", "expires_at", "created_at"]
        read_only_fields = fields


class RepositorySerializer(serializers.ModelSerializer):
    provider = serializers.CharField(source="credential.provider", read_only=True)
    login = serializers.CharField(source="credential.login", read_only=True)

    class Meta:
        model = SourceCodeRepository
        fields = ["id", "credential", "provider", "login", "url", "clone_url", "default_branch", "permissions"]
        read_only_fields = fields


class RefreshSerializer(serializers.Serializer):
    credential = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this credential (default: all of yours)."
    )


class RefreshedSerializer(serializers.Serializer):
    credential = serializers.IntegerField()
    repositories = serializers.IntegerField(help_text="How many repositories it administers now.")


class RefreshResultSerializer(serializers.Serializer):
    repositories = serializers.IntegerField(help_text="Total over the refreshed credentials.")
    credentials = RefreshedSerializer(many=True)


class CredentialFilter(django_filters.FilterSet):
    provider = django_filters.ChoiceFilter(choices=Provider.choices)

    class Meta:
        model = SourceCodeCredential
        fields = ["provider"]


class RepositoryFilter(django_filters.FilterSet):
    credential = IdFilter(field_name="credential_id", min_value=1, max_value=MAX_ID)
    provider = django_filters.ChoiceFilter(field_name="credential__provider", choices=Provider.choices)

    class Meta:
        model = SourceCodeRepository
        fields = ["credential", "provider"]


class BoundedSearchFilter(SearchFilter):
    """``?search=``: a NUL (PostgreSQL refuses it in a string) or a huge term is a 400, not a 500."""

    def get_search_terms(self, request: Request) -> list[str]:
        raw = request.query_params.get(self.search_param, "")
        if "\x00" in raw or len(raw) > MAX_SEARCH:
            raise exceptions.ValidationError(
                {self.search_param: [f"at most {MAX_SEARCH} characters, without NUL characters"]}
            )
        return super().get_search_terms(request)


@extend_schema_view(
    list=extend_schema(summary="Your source code credentials (tokens are never shown)"),
    retrieve=extend_schema(parameters=[ID_PARAM], summary="One of your credentials"),
    destroy=extend_schema(
        parameters=[ID_PARAM],
        summary="Delete one of your credentials",
        description="Pipelines that used it keep running without a token (public repositories only); "
        "its synced repositories go with it.",
    ),
)
class CredentialViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = CredentialSerializer
    filterset_class = CredentialFilter
    ordering_fields = ["id", "provider", "created_at"]
    ordering = ["id"]
    lookup_value_regex = "[^/]+"  # the router's default stops at a dot: "0.5" would be Django's HTML 404
    queryset = SourceCodeCredential.objects.none()  # for the schema; get_queryset scopes to the user

    def get_queryset(self) -> Any:
        return SourceCodeCredential.objects.filter(user_id=self.request.user.pk)


@extend_schema_view(
    list=extend_schema(summary="Repositories your credentials administer (as of the last refresh)"),
    retrieve=extend_schema(parameters=[ID_PARAM], summary="One of your synced repositories"),
)
class RepositoryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = RepositorySerializer
    filterset_class = RepositoryFilter
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend, BoundedSearchFilter, OrderingFilter]
    search_fields = ["url"]
    ordering_fields = ["id", "url"]
    ordering = ["url", "id"]
    lookup_value_regex = "[^/]+"  # the router's default stops at a dot: "0.5" would be Django's HTML 404
    queryset = SourceCodeRepository.objects.none()  # for the schema; get_queryset scopes to the user

    def get_queryset(self) -> Any:
        return SourceCodeRepository.objects.filter(credential__user_id=self.request.user.pk).select_related(
            "credential"
        )

    def get_serializer_class(self) -> type[BaseSerializer]:
        return RefreshSerializer if self.action == "refresh" else RepositorySerializer

    @extend_schema(
        request=RefreshSerializer,
        summary="Sync the repositories of your credentials (or of one) from the providers now",
        description="Credentials of providers without an API (plain git) are skipped, or a 400 when named.",
        responses={200: RefreshResultSerializer, 502: UPSTREAM},
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None, parser_classes=[JSONParser])
    def refresh(self, request: Request) -> Response:
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        mine = SourceCodeCredential.objects.filter(user_id=request.user.pk).order_by("id")
        wanted = body.validated_data.get("credential")
        if wanted is not None:
            credential = mine.filter(pk=wanted).first()
            if credential is None:
                raise exceptions.ValidationError({"credential": [NO_SUCH_CREDENTIAL]})
            if not provider_class(credential.provider).has_api:
                raise exceptions.ValidationError(
                    {"credential": [f"{credential.provider} credentials have no repositories to sync"]}
                )
            credentials = [credential]
        else:
            credentials = [c for c in mine if provider_class(c.provider).has_api]
        done = []
        for credential in credentials:
            try:
                count = sync_repositories(credential.pk)
            except ProviderError as exc:
                raise UpstreamError(f"credential {credential.pk} ({credential.provider}): {exc}") from None
            done.append({"credential": credential.pk, "repositories": count})
        return Response({"repositories": sum(d["repositories"] for d in done), "credentials": done})


def register(router: DefaultRouter) -> None:
    router.register("credentials", CredentialViewSet, basename="credential")
    router.register("repositories", RepositoryViewSet, basename="repository")
