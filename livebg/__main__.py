import sys

from livebg.cli import main

sys.exit(main())
