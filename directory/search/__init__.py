"""Search: where "a practitioner appears in search" is decided, with directory.listing.

- filters.py: the filter registry (each filter declared once; the form, the page, the API and
  its OpenAPI parameters and the SQL are derived from it);
- names.py: the search by name (a practitioner's, a clinic's, a licence or NPI number), with
  typos and without accents, alone or with a place;
- ring.py: the location search (nearest searchable practitioners, widening rings on the
  (lat, lng) index, named result records).

Who is searchable at all is directory.listing's rule (listed, and confirmed within 12 months).
"""

from directory.search import names
from directory.search.filters import FILTERS, Filters
from directory.search.ring import (
    DEFAULT_SORT,
    MAX_RADIUS_KM,
    MAX_RESULTS,
    RADII_KM,
    SORTS,
    Hit,
    Results,
    search,
    search_by_name,
)

__all__ = ["DEFAULT_SORT", "FILTERS", "MAX_RADIUS_KM", "MAX_RESULTS", "RADII_KM", "SORTS",
           "Filters", "Hit", "Results", "names", "search",
           "search_by_name"]
