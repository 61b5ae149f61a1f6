"""Collection: payroll declarations in, contributions assessed, employer payments allocated, worker histories."""
