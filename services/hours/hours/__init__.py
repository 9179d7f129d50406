"""Hours service: contractors declare the hours worked by participants; facilitators validate them."""
