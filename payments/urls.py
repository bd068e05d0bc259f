from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("stripe/webhook/", views.stripe_webhook, name="stripe-webhook"),
    path("pay/<str:token>/", views.pay, name="pay"),
    path("return/<str:token>/", views.payment_return, name="return"),
    path("receipt/<str:token>/", views.receipt, name="receipt"),
    path("renew/<str:token>/", views.renewal_pay, name="renew"),
]
