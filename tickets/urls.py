from django.urls import path

from tickets import notification_views, start_views, task_views, views

urlpatterns = [
    path("tickets/", views.ticket_list, name="ticket_list"),
    path("tickets/archive/", views.ticket_archive, name="ticket_archive"),
    path("tickets/new/", views.ticket_new, name="ticket_new"),
    path("tickets/new/<int:type_id>/", views.ticket_submit, name="ticket_submit"),
    path("tickets/<int:ticket_id>/", views.ticket_detail, name="ticket_detail"),
    path("tickets/<int:ticket_id>/cancel/", views.ticket_cancel, name="ticket_cancel"),
    path("templates/", start_views.template_gallery, name="template_gallery"),
    path("templates/<slug:key>/install/", start_views.install_template, name="template_install"),
    path("tickets/<int:ticket_id>/comments/", views.comment_add, name="comment_add"),
    path("notifications/", notification_views.notification_list, name="notification_list"),
    path("notifications/read/", notification_views.notification_read_all, name="notification_read_all"),
    path(
        "notifications/<int:notification_id>/read/",
        notification_views.notification_read,
        name="notification_read",
    ),
    path(
        "notifications/preferences/",
        notification_views.notification_preferences,
        name="notification_preferences",
    ),
    path("tasks/", task_views.task_list, name="task_list"),
    path("tasks/availability/", task_views.availability, name="task_availability"),
    path("tasks/<int:task_id>/", task_views.task_detail, name="task_detail"),
    path("tasks/<int:task_id>/claim/", task_views.task_claim, name="task_claim"),
    path("tasks/<int:task_id>/release/", task_views.task_release, name="task_release"),
    path("attachments/<int:upload_id>/", views.attachment_download, name="attachment_download"),
]
