"""`python -m services.payments`: run the payments service in the foreground."""
from services.payments.app import main

if __name__ == "__main__":
    main()
