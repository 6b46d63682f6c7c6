from typing import ClassVar

from django.db import models


class Item(models.Model):
    title = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    # Declared: the type checker runs with TicketFlower's settings, where this app is absent.
    objects: ClassVar[models.Manager["Item"]] = models.Manager()

    def __str__(self) -> str:
        return self.title
