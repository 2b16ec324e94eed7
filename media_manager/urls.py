app_name = "media_manager"
urlpatterns: list = []
