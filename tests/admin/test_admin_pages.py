"""Every admin page an operator opens renders for staff, none shows a secret value, and only staff get in."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db


def pages(world) -> list[str]:
    """Changelists (plain, searched, filtered), add pages, change pages, history and delete pages."""
    objects = {
        "project": world.project,
        "pipeline": world.pipeline,
        "pipelinetemplate": world.template,
        "pipelineexecution": world.execution,
        "webhookdelivery": world.delivery,
        "sourcecodeproviderconfig": world.provider,
        "sourcecodecredential": world.credential,
        "sourcecoderepository": world.repository,
        "cluster": world.cluster,
    }
    urls = []
    for name, obj in objects.items():
        urls += [
            reverse(f"admin:devops_{name}_changelist"),
            reverse(f"admin:devops_{name}_changelist") + "?q=a",
            reverse(f"admin:devops_{name}_change", args=[obj.pk]),
            reverse(f"admin:devops_{name}_history", args=[obj.pk]),
        ]
    for name in ("project", "pipeline", "pipelinetemplate", "sourcecodeproviderconfig", "cluster"):
        urls.append(reverse(f"admin:devops_{name}_add"))
    for name in ("project", "pipeline", "cluster", "sourcecodecredential"):
        urls.append(reverse(f"admin:devops_{name}_delete", args=[objects[name].pk]))
    executions = reverse("admin:devops_pipelineexecution_changelist")
    deliveries = reverse("admin:devops_webhookdelivery_changelist")
    pipelines = reverse("admin:devops_pipeline_changelist")
    urls += [
        f"{executions}?state__exact=Queueing",
        f"{executions}?event__exact=manual&project__id__exact={world.project.pk}",
        f"{executions}?q={world.execution.commit[:7]}",
        f"{executions}?created_at__year={world.execution.created_at.year}",
        f"{deliveries}?source__exact=github&outcome__exact=queued",
        f"{deliveries}?q=delivery-42",
        f"{pipelines}?provider__exact=git&project__id__exact={world.project.pk}",
        f"{pipelines}?last_run_state__exact=Success",
        reverse("admin:devops_sourcecodecredential_changelist") + "?provider__exact=github",
        reverse("admin:devops_sourcecoderepository_changelist") + "?q=octo",
        reverse("admin:devops_sourcecodeproviderconfig_changelist") + "?enabled__exact=1",
        reverse("admin:devops_cluster_changelist") + "?in_cluster__exact=0",
        reverse("admin:index"),
        reverse("admin:app_list", args=["devops"]),
        reverse("admin:django_celery_beat_periodictask_changelist"),
        reverse("admin:django_celery_beat_periodictask_change", args=[world.schedule.periodic_task_id]),
        reverse("admin:django_celery_beat_crontabschedule_changelist"),
    ]
    return urls


def test_every_page_renders_for_staff_and_shows_no_secret(staff, world, admin_helpers):
    secrets = world.all_secrets()
    assert len(secrets) == 8
    for url in pages(world):
        response = staff.get(url)
        assert response.status_code == 200, url
        admin_helpers.assert_no_secret(response.content, secrets, url)


def test_change_pages_show_what_an_operator_needs(staff, world):
    project = staff.get(reverse("admin:devops_project_change", args=[world.project.pk])).content.decode()
    assert "API_KEY, OTHER" in project  # the secret's key names, never its values
    assert "registry.example.com" in project and "robot" in project
    credential = staff.get(reverse("admin:devops_sourcecodecredential_change", args=[world.credential.pk]))
    text = credential.content.decode()
    assert "octo-login" in text and ">set<" in text and "https://github.com/octo/app" in text
    pipeline = staff.get(reverse("admin:devops_pipeline_change", args=[world.pipeline.pk])).content.decode()
    assert "webhook_secret" not in pipeline
    assert f"/hooks/pipelines/{world.pipeline.pk}/" in pipeline  # the URL to give a provider, without a secret
    assert "0 3 * * 1-5" in pipeline and "library/app" in pipeline
    assert "periodic task" in pipeline
    providers = staff.get(reverse("admin:devops_sourcecodeproviderconfig_changelist")).content.decode()
    assert "icon-yes.svg" in providers  # "has secret"


def test_beat_admin_lists_the_schedules_task(staff, world):
    response = staff.get(reverse("admin:django_celery_beat_periodictask_changelist"))
    assert response.status_code == 200
    assert f"pipeline-schedule-{world.schedule.pk}" in response.content.decode()


def test_every_devops_model_with_an_admin_is_covered(world):
    covered = {
        "project", "pipeline", "pipelinetemplate", "pipelineexecution", "webhookdelivery", "sourcecodeproviderconfig",
        "sourcecodecredential", "sourcecoderepository", "cluster",
    }  # fmt: skip
    registered = {m._meta.model_name for m in admin.site._registry if m._meta.app_label == "devops"}
    assert registered == covered


def test_non_staff_and_anonymous_are_sent_to_the_login(client, django_user_model, world, h):
    user = django_user_model.objects.create_user(h.unique_name("plain"), password="pw-123456789")
    urls = [
        reverse("admin:devops_project_changelist"),
        reverse("admin:devops_project_change", args=[world.project.pk]),
        reverse("admin:devops_sourcecodeproviderconfig_change", args=[world.provider.pk]),
        reverse("admin:devops_pipelineexecution_change", args=[world.execution.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
    client.force_login(user)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
    abort = reverse("admin:devops_pipelineexecution_abort", args=[world.execution.pk])
    response = client.post(abort)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    world.execution.refresh_from_db()
    assert world.execution.state == "Queueing"


def test_staff_without_permissions_cannot_operate(client, django_user_model, world, h):
    user = django_user_model.objects.create_user(h.unique_name("staff"), is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:devops_project_changelist")).status_code == 403
    assert client.post(reverse("admin:devops_pipelineexecution_abort", args=[world.execution.pk])).status_code == 403
    world.execution.refresh_from_db()
    assert world.execution.state == "Queueing"
