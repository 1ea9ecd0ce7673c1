"""A practitioner's certifications: submit, follow, edit (routes.py, forms.py; pages in
templates/certifications/). The state machine and the checks are in directory/credentials."""
