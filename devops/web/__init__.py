"""The web UI: server-rendered pages (templates/) with small plain scripts for the live parts.

Pages follow the same access rules as the API (devops.access). ``urls.py`` joins two route modules:
``urls_pages`` (sign-in, projects, pipelines, settings) and ``urls_executions`` (execution page, logs,
visual editor).
"""
