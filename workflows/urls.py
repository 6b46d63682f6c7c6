from django.urls import path

from workflows import pages

urlpatterns = [
    path("tasks/", pages.task_list, name="task_list"),
    path("tasks/availability/", pages.availability, name="task_availability"),
    path("tasks/<int:task_id>/", pages.task_detail, name="task_detail"),
]
