"""One page of a stored list, as the APIs answer them (flask-smorest's pagination: ``?page=2&page_size=100``)."""


def page(queryset, pagination, *order: str) -> list:
    """The page ``pagination`` asks of ``queryset`` in ``order`` (mongoengine's keys, ``-`` for descending), the
    id last: MongoDB promises no order among equal keys, so without a unique last key an item tied with others
    at a page's border could show on two pages and on none. Sets the list's total (the X-Pagination header)."""
    if not order or order[-1].lstrip("+-") not in ("id", "_id"):
        order = (*order, "id")
    pagination.item_count = queryset.count()
    return list(queryset.order_by(*order).skip(pagination.first_item).limit(pagination.page_size))
