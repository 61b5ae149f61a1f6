"""`python -m services.collection`: run the collection service in the foreground."""
from services.collection.app import main

if __name__ == "__main__":
    main()
