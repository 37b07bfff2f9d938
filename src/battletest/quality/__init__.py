"""Quality: gates over the results (flakiness, impact selection and coverage gaps join later)."""
