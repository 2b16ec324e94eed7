import os

from django.core.wsgi import get_wsgi_application

from listings_portal.lib.profiling import profiled_wsgi

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "listings_portal.settings")
# profiled_wsgi returns the application itself unless PORTAL_PROFILE_DIR is set (benchmarks).
application = profiled_wsgi(get_wsgi_application())
