from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("notices/", views.notices, name="notices"),
    path("notices/new/", views.notice_edit, name="notice-new"),
    path("notices/<int:pk>/", views.notice_detail, name="notice"),
    path("notices/<int:pk>/edit/", views.notice_edit, name="notice-edit"),
    path("notices/<int:pk>/withdraw/", views.notice_withdraw, name="notice-withdraw"),
    path("notices/<int:pk>/sheet.pdf", views.notice_sheet, name="notice-sheet"),
    path("receipts/<int:pk>/posted/", views.notice_posted, name="notice-posted"),
    path("sms/", views.sms_preferences, name="sms"),
    path("prices/", views.prices, name="prices"),
    path("prices/history/", views.price_history, name="price-history"),
    path("prices/sheet.pdf", views.price_sheet, name="price-sheet"),
    path("prices/import/", views.price_import, name="price-import"),
    path("prices/template.csv", views.price_template, name="price-template"),
    path("surveys/", views.surveys, name="surveys"),
    path("surveys/new/", views.survey_new, name="survey-new"),
    path("surveys/<int:pk>/", views.survey_detail, name="survey"),
    path("surveys/<int:pk>/close/", views.survey_close, name="survey-close"),
    path("surveys/<int:pk>/import/", views.survey_import, name="survey-import"),
    path("surveys/<int:pk>/template.csv", views.survey_template, name="survey-template"),
    path("surveys/<int:pk>/households/<int:household_id>/", views.survey_answer, name="survey-answer"),
    path("questions/", views.questions, name="questions"),
    path("questions/new/", views.question_new, name="question-new"),
    path("questions/archive/", views.question_archive, name="question-archive"),
    path("questions/stats/", views.question_stats, name="question-stats"),
    path("questions/<int:pk>/", views.question_detail, name="question"),
    path("questions/<int:pk>/photos/<int:photo_id>/", views.question_photo, name="question-photo"),
]
