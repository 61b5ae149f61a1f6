"""`python -m services.arrears`: run the arrears service in the foreground."""
from services.arrears.app import main

if __name__ == "__main__":
    main()
