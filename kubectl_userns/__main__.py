from kubectl_userns.cli import main

main()
