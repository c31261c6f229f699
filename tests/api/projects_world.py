"""The world the project API tests share: one project with a user per role, a foreign project the
outsider owns, and a secret and a registry credential in each, whose values no response may show."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from rest_framework.test import APIClient

from devops.models import Project, ProjectMember, ProjectSecret, RegistryCredential

ROLES = ("owner", "member", "viewer", "staff", "outsider")
SECRET_VALUE = "s3cr3t-value-never-shown"
FOREIGN_SECRET_VALUE = "foreign-s3cr3t-value"
PASSWORD = "registry-pa55word-never-shown"
FOREIGN_PASSWORD = "foreign-registry-pa55word"
NEVER_SHOWN = (SECRET_VALUE, FOREIGN_SECRET_VALUE, PASSWORD, FOREIGN_PASSWORD)


@dataclass
class World:
    project: Project
    foreign: Project
    secret: ProjectSecret
    registry: RegistryCredential
    foreign_secret: ProjectSecret
    foreign_registry: RegistryCredential
    users: dict[str, Any]
    clients: dict[str, APIClient] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)

    def call(self, role: str, method: str, url: str, data: Any = None) -> Any:
        """The response to ``role``'s request; every body is kept for the never-shown check."""
        client = self.clients[role]
        response = (
            getattr(client, method)(url, data, format="json") if data is not None else getattr(client, method)(url)
        )
        self.bodies.append(response.content)
        return response

    def assert_nothing_leaked(self) -> None:
        for body in self.bodies:
            for value in NEVER_SHOWN:
                assert value.encode() not in body, f"{value} in {body[:300]!r}"

    def foreign_marks(self) -> list[bytes]:
        """What only the foreign project's objects would put in a body."""
        return [
            self.foreign.name.encode(),
            b"foreign.example.com",
            b"foreign-robot",
            self.users["guest"].username.encode(),
        ]


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def make_world(django_user_model: Any) -> World:
    tag = uuid.uuid4().hex[:8]
    project = Project.objects.create(name=f"p-{tag}", display_name="The project")
    foreign = Project.objects.create(name=f"f-{tag}", display_name="Someone else's")
    users = {role: django_user_model.objects.create_user(f"{role}-{tag}", is_staff=role == "staff") for role in ROLES}
    # Not a role under test: the viewer of the foreign project (a member the member routes can address).
    users["guest"] = django_user_model.objects.create_user(f"guest-{tag}")
    for role in ("owner", "member", "viewer"):
        ProjectMember.objects.create(project=project, user=users[role], role=role)
    ProjectMember.objects.create(project=foreign, user=users["outsider"], role="owner")
    ProjectMember.objects.create(project=foreign, user=users["guest"], role="viewer")
    world = World(
        project=project,
        foreign=foreign,
        secret=ProjectSecret.objects.create(project=project, name="deploy", data={"TOKEN": SECRET_VALUE}),
        registry=RegistryCredential.objects.create(
            project=project, registry="registry.example.com:5000", username="robot", password=PASSWORD
        ),
        foreign_secret=ProjectSecret.objects.create(project=foreign, name="deploy", data={"T": FOREIGN_SECRET_VALUE}),
        foreign_registry=RegistryCredential.objects.create(
            project=foreign, registry="foreign.example.com", username="foreign-robot", password=FOREIGN_PASSWORD
        ),
        users=users,
    )
    world.clients = {role: client_for(users[role]) for role in ROLES}
    return world
