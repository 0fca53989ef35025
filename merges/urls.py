from django.urls import path

from merges import views

urlpatterns = [
    path("duplicates/", views.queue, name="review-queue"),
    path("duplicates/<int:candidate_id>/", views.candidate_detail, name="review-candidate"),
    path(
        "duplicates/<int:candidate_id>/dismiss/",
        views.candidate_dismiss,
        name="review-dismiss",
    ),
]
