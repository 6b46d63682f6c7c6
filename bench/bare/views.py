from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from bench.bare.models import Item


def read(request: HttpRequest) -> HttpResponse:
    """The newest 25 rows, rendered by a template."""
    return render(request, "bare/list.html", {"items": Item.objects.order_by("-id")[:25]})


@csrf_exempt
def insert(request: HttpRequest) -> HttpResponse:
    """Inserts one row (POST), then redirects like a real form does."""
    if request.method != "POST":
        return HttpResponse(status=405)
    item = Item.objects.create(title=request.POST.get("title", "item"))
    return HttpResponse(status=302, headers={"Location": f"/read/?id={item.pk}"})
