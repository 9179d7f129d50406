"""The web application: the pages facilitators, buyers, companies' staff and operators use."""
