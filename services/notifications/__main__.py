"""`python -m services.notifications`: run the notifications service in the foreground."""
from services.notifications.app import main

if __name__ == "__main__":
    main()
