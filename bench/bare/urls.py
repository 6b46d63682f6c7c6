from django.urls import path

from bench.bare import views

urlpatterns = [path("read/", views.read), path("insert/", views.insert)]
